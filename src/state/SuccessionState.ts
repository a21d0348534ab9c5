/**
 * What a key's state remembers of the flagged key it may continue. Plain data (snapshotted with the key).
 * While `linked` is false the link is pending: the key's first calls are gathered until `confirmCalls` (`lookAgainCalls` when the first look failed on the nearer test alone).
 */
export interface SuccessionState {
  /** The flagged key this key may continue, and their model. */
  from: string;
  model: string;
  /** The flagged key's last call before this key's first, its risk then, and its median gap between calls. */
  fromTs: number;
  fromRisk: number;
  fromGapMs: number;
  /** This key's first call. */
  firstTs: number;
  linked: boolean;
  /** Pending only: the keys this one may continue, the latest first; this key's call times and sketch prefixes (row-major, as wide as the widest candidate's). */
  candidates?: SuccessionCandidate[];
  ts?: number[];
  sketches?: number[];
  /** Pending only: the model's margin and top-1 class on each of this key's calls (NaN where the answer did not say; absent in a state from before the answer test). */
  margins?: number[];
  labels?: number[];
  /** Linked only: this key's median gap, and the share of its confirming queries nearer the flagged key's than the traffic. */
  gapMs?: number;
  nearer?: number;
  /**
   * Linked on the answer test only: the shares of this key's and the flagged key's answers in the model's least certain
   * `answerShare`, and the shares the traffic's answers of the same classes have there.
   */
  answerTail?: number;
  answerExpected?: number;
  fromAnswerTail?: number;
  fromAnswerExpected?: number;
  answerShare?: number;
}

/** A flagged key a fresh key may continue: its last call before the fresh key's first, its risk then, its pacing and last queries. */
export interface SuccessionCandidate {
  from: string;
  fromTs: number;
  fromRisk: number;
  fromGapMs: number;
  /** Gaps between its last calls (ms). */
  fromGaps: number[];
  /** Its last sketch prefixes, row-major, `dim` wide. */
  fromSketches: number[];
  /** The model's margins on its last calls (NaN where the answer did not say; absent in a state from before the answer test). */
  fromMargins?: number[];
  fromLabels?: number[];
  dim: number;
}
