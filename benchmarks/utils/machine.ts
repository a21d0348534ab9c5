import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';

/** The machine a benchmark ran on, as RESULTS.md records it. */
export interface MachineInfo {
  os: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  /** 1-minute load average when asked: on a shared machine, how much else was running. */
  load: number;
}

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  return {
    os: `${platform()} ${release()} ${arch()}`,
    cpu: cpu[0]?.model.trim() ?? 'unknown CPU',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    load: Math.round(loadavg()[0] * 100) / 100,
  };
}

/** One line: "os · cpu × cores · memory · node · load". */
export function describeMachine(m: MachineInfo = machineInfo()): string {
  return `${m.os} · ${m.cpu} × ${m.cores} cores · ${m.memoryGiB} GiB · Node ${m.node} · load average ${m.load} at the end of the run`;
}
