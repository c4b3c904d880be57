/** Where command output goes (replaceable in tests). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}
