/**
 * The clients routers download and upload with (`KindContext.transfer`): one of each per
 * process, since they hold no per-router state. A module of its own so that a node agent
 * running a server, which never dials out, does not load them (basic-ftp among them).
 */
import { FtpTransferClient } from '../../router/transfer/FtpTransferClient.ts';
import { HttpTransferClient } from '../../router/transfer/HttpTransferClient.ts';
import { TftpTransferClient } from '../../servers/tftp/TftpClient.ts';
import type { KindContext } from '../kinds/registry.ts';

export function transferClients(): NonNullable<KindContext['transfer']> {
  return { tftp: new TftpTransferClient(), ftp: new FtpTransferClient(), http: new HttpTransferClient('http'), https: new HttpTransferClient('https') };
}
