import { arch, cpus, platform, release, totalmem } from 'node:os';

/** One line describing the machine a benchmark ran on. */
export function describeMachine(): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown cpu';
  return `${platform()} ${release()} ${arch()}, ${model}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, Node ${process.version}`;
}
