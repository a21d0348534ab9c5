import { isMap, parseDocument } from 'yaml';
import { ProbewatchError } from '../errors.ts';

/** A fitted logistic fusion, as it goes into the config. */
export interface FusionWeights {
  bias: number;
  /** Coefficient per behavioural detector. */
  weights: Record<string, number>;
}

/**
 * Sets `fusion.method: logistic`, `fusion.bias` and `fusion.weights.<name>`
 * in a config YAML text through the `yaml` Document API, so comments, key
 * order, flow style and every other key are kept. Weights for detectors not
 * in `fit` are left as they are. Returns the new text; `source` names the
 * file in errors.
 */
export function writeFusionWeights(text: string, fit: FusionWeights, source: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new ProbewatchError('PW_CONFIG', `${source} is not valid YAML: ${doc.errors[0].message}`);
  if (doc.contents !== null && !isMap(doc.contents)) throw new ProbewatchError('PW_CONFIG', `${source}: the top level must be a mapping`);
  const fusion = doc.get('fusion', true);
  if (fusion !== undefined && fusion !== null && !isMap(fusion)) throw new ProbewatchError('PW_CONFIG', `${source}: fusion must be a mapping`);
  doc.setIn(['fusion', 'method'], 'logistic');
  doc.setIn(['fusion', 'bias'], fit.bias);
  for (const [name, weight] of Object.entries(fit.weights)) doc.setIn(['fusion', 'weights', name], weight);
  // lineWidth 0: long flow mappings stay on one line as written.
  return doc.toString({ lineWidth: 0 });
}
