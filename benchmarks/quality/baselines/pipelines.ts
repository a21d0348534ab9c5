import { DETECTORS } from '../../../detectors/index.ts';
import type { Config } from '../../../src/config/configSchema.ts';
import { loadConfig, parseConfig } from '../../../src/config/loadConfig.ts';

/** The detector PRADA (Juuti et al., EuroS&P 2019) corresponds to: the min-distance normality test. */
export const PRADA_DETECTOR = 'grid-sweep';

/** probewatch as shipped: embedded defaults, every registered detector. */
export function defaultConfig(): Readonly<Config> {
  return loadConfig(undefined);
}

/**
 * "PRADA alone": the default config with every detector but grid-sweep
 * disabled, or undefined when grid-sweep is not in the registry.
 */
export function pradaOnlyConfig(): Readonly<Config> | undefined {
  if (!DETECTORS.some((d) => d.name === PRADA_DETECTOR)) return undefined;
  const detectors = Object.fromEntries(DETECTORS.filter((d) => d.name !== PRADA_DETECTOR).map((d) => [d.name, { enabled: false }]));
  return parseConfig({ detectors }, 'PRADA-only baseline');
}

/** Names of the detectors a config runs. */
export function enabledDetectors(config: Readonly<Config>): string[] {
  const section = config.detectors as Record<string, { enabled: boolean }>;
  return DETECTORS.filter((d) => section[d.name]?.enabled !== false).map((d) => d.name);
}
