/** What the rest of the router sees of storage. Implemented in this folder. */
export interface FileEntry {
  /** Base name. */
  name: string;
  /** Path inside the file system, `/`-separated, no leading slash (`dir1/file.bin`). */
  path: string;
  isDir: boolean;
  size: number;
  mtime: Date;
  /** Stable per-file number for `dir`'s first column. */
  inode: number;
  /** Class-A/B flash: deleted but not yet squeezed. */
  deleted?: boolean;
}

/** IOS-level failure of a storage operation; `reason` is IOS's parenthesised text. */
export class StorageError extends Error {
  constructor(
    readonly reason:
      | 'No such file or directory'
      | 'File exists'
      | 'Directory not empty'
      | 'Is a directory'
      | 'Not a directory'
      | 'Not enough space on device'
      | 'No space left on device'
      | 'Invalid argument'
      | 'Permission denied'
      | 'No device available'
      | 'I/O error',
  ) {
    super(reason);
    this.name = 'StorageError';
  }
}

/** What is wrong with a file's stored content. */
export type ContentProblem = 'missing' | 'truncated' | 'wrong size' | 'corrupt';

/**
 * A file whose content in the lab's store is gone or damaged. The router prints IOS's
 * `(I/O error)`; `problem` and `hash` are for the lab's own report (never a host path).
 */
export class DamagedContentError extends StorageError {
  constructor(
    readonly hash: string,
    readonly problem: ContentProblem,
    readonly expectedSize?: number,
    readonly actualSize?: number,
  ) {
    super('I/O error');
    this.name = 'DamagedContentError';
  }

  /** One line for the lab's log and for `flashlab` (the file is named by the caller). */
  describe(): string {
    const sizes = this.actualSize !== undefined && this.expectedSize !== undefined ? ` (${this.actualSize} of ${this.expectedSize} bytes)` : '';
    const what =
      this.problem === 'missing'
        ? 'its content is missing from the store'
        : this.problem === 'corrupt'
          ? 'its content does not match its checksum'
          : `its content is ${this.problem}${sizes}`;
    return `${what} [blob ${this.hash.slice(0, 12)}]`;
  }
}
