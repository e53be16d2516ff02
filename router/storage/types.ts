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
      | 'No device available',
  ) {
    super(reason);
    this.name = 'StorageError';
  }
}
