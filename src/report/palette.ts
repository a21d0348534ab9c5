/** Distinct line colours for detectors and series, in a fixed order so one detector keeps its colour across plots. */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#aec7e8'];

/** Colours of the ladder's rungs (as in the HTML reports' level names). */
export const LEVEL_COLOURS: Record<string, string> = {
  allow: '#2e7d32',
  observe: '#1f5fa8',
  throttle: '#b8860b',
  truncate: '#d35400',
  deceive: '#c0392b',
  block: '#7b1fa2',
};
