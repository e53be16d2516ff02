/**
 * Where each feature's lines stand in `show running-config`, in the order IOS prints them.
 * One table, so a new feature picks its slot here rather than guessing numbers.
 */
export const ConfigOrder = {
  version: 0,
  service: 10,
  hostname: 20,
  boot: 30,
  logging: 40,
  enable: 50,
  aaa: 55,
  clock: 60,
  ipHost: 70,
  ipDomain: 71,
  ipNameServer: 72,
  ipFtp: 80,
  ipTftp: 81,
  ipTcp: 83,
  scp: 82,
  filePrompt: 90,
  pki: 100,
  autoupgrade: 110,
  username: 120,
  configRegister: 130,
  interface: 150,
  ipSsh: 160,
  line: 200,
  end: 10_000,
} as const;
