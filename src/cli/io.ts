/** Where command output goes (replaceable in tests). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /**
   * Print progress of long commands (each dataset of a run as it finishes) on `err`: on when
   * standard error is a terminal, off when it is a file or a pipe.
   */
  progress?: boolean;
}
