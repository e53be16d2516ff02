/**
 * Every text the Auto-Upgrade Manager prints, logs or mails, in one table. Marks as in
 * ANCHORS.md: [DOC] Cisco's configuration guide (IOS_REFERENCE §8, ANCHORS §1.9), [INF]
 * inferred: nothing public shows AUM's errors, its syslog lines, the IDA branch of the
 * dialog or the status mail, so these are IOS-like wording kept here to change in one edit.
 */

const HASHES = '#'.repeat(80);

export const AumText = {
  // ---- the interactive dialog [DOC] 12.4T guide, verbatim structure (IOS_REFERENCE §8)
  welcome: [
    HASHES,
    'Welcome to the Cisco Auto Upgrade Manager. To upgrade your device, please answer the following',
    'questions. To accept the default value for a question, simply hit <ENTER>',
    HASHES,
  ].join('\n'),
  ciscoIntro: 'Would you like to download an image directly from Cisco Server over the Internet? A valid\nCisco login will be required.',
  askCisco: 'Download from Cisco server?',
  askLocation: 'Image location',
  /** [INF] the Cisco branch's questions (IOS_REFERENCE §8 proposal). */
  askUsername: 'Cisco Username',
  askPassword: 'Cisco Password: ',
  askImage: 'Image name',
  askReloadNow: 'Reload and upgrade the device immediately after image download is complete?',
  whenReload:
    'When would you like to reload your device? Use hh:mm format or specify "Manual" to not\nschedule a reload time. Use \'upgrade automatic runversion\' to reload manually.',
  askReloadTime: 'Time to reload the box',
  proceed: (from: string, to: string) => `Proceed with device image upgrade from\n[${from}] to\n[${to}]?`,

  // ---- what a getversion prints [DOC]
  imageFound: (name: string, size: number) => `Image Found: ${name} (${size} bytes)`,
  memoryAvailable: (mb: number, flashFree: number) => `Memory Available: ${mb}Mb Main Memory (RAM) - ${flashFree} bytes of flash space`,
  downloadTo: (where: string) => `New image will be downloaded to ${where}`,
  downloadingUrl: 'Downloading Image from user specified url:',
  /** [INF] the Cisco branch's counterpart. */
  downloadingCisco: 'Downloading Image from Cisco server:',
  downloadComplete: '[download complete]',
  /** [DOC] sic: 'Verifiying' is how the guide prints it. */
  verifying: 'Verifiying the image: ',
  done: 'Done!',
  verificationPass: 'Image Verification: PASS',
  /** [INF] the failing counterpart of the line above. */
  verificationFail: 'Image Verification: FAIL',
  reloadManually: "Use 'upgrade automatic runversion' command to reload manually.",

  // ---- runversion / abortversion [DOC]
  upgradingTo: (image: string) => `Upgrading to "${image}". Wait..`,
  scheduledFor: (long: string, inText: string, image: string, by: string) => `Reload scheduled for ${long} (in ${inText}) with image - ${image} by ${by}`,
  reloadReason: 'Reload reason: Auto upgrade',
  reasonWord: 'Auto upgrade',
  warmAt: (hhmmss: string) => `Device will WARM UPGRADE at ${hhmmss}`,
  warmIn: (hms: string) => `Device will WARM UPGRADE in ${hms}`,
  toCancel: 'To cancel the upgrade, enter the command "upgrade automatic abortversion"',
  aborted: 'Auto upgrade of image which was scheduled earlier is aborted!',
  /** [INF] */
  nothingToAbort: '%AUM: No auto upgrade is scheduled',
  /** [INF] */
  nothingToRun: "%AUM: No image was downloaded by 'upgrade automatic getversion'",
  /** [INF] */
  runImageGone: (image: string) => `%AUM: Downloaded image ${image} is no longer on the device`,
  /** [INF] */
  badTime: '%AUM: Invalid time: use hh:mm',
  /** [INF] */
  busy: '%AUM: An auto upgrade is already in progress',

  // ---- failures [INF]: console and logging buffer (S4.5)
  fail: {
    unreachableIda: (url: string) => `%AUM: Unable to connect to IDA server ${url}`,
    badCredentials: 'Invalid cisco.com username or password',
    notFound: '%AUM: Image not found on Cisco server',
    notRegistered: (user: string) =>
      `%AUM: User ${user} is not registered for crypto software downloads. Please register at https://www.cisco.com/cgi-bin/Software/Crypto/crypto_main.pl and try again`,
    idaAnswer: (status: number) => `%AUM: Unexpected answer from IDA server (HTTP ${status})`,
    notCrypto: (version: string) => `%AUM: Images can be downloaded from Cisco server only when the running image is a crypto (k9) image; running ${version} is not`,
    notImage: (name: string) => `%AUM: ${name} is not a system image`,
    wrongPlatform: (name: string, platform: string) => `%AUM: Image ${name} is not for this platform (${platform})`,
    memory: (name: string, needMb: number, haveMb: number) => `%AUM: Not enough memory to run image ${name}: it needs ${needMb}Mb, the device has ${haveMb}Mb`,
    /** IOS_REFERENCE §8 proposal. */
    space: (fs: string) => `%Not enough space on ${fs} to download image`,
    running: (name: string) => `%AUM: ${name} is the running image`,
    verification: (name: string, why: string) => `%AUM: Image ${name} failed signature verification (${why}): deleted`,
    declined: '%AUM: Upgrade cancelled',
    noSize: (url: string) => `%AUM: The server did not announce the size of ${url}`,
  },

  // ---- syslog [INF] (IOS_REFERENCE §8 proposals)
  log: {
    downloadComplete: (file: string, fs: string) => `Image ${file} downloaded to ${fs}`,
    downloadFailed: (reason: string) => reason.replace(/^%(AUM: )?/, ''),
    scheduled: (image: string, when: string) => `Upgrade to ${image} scheduled for ${when}`,
    completed: (from: string, to: string) => `Upgrade from ${from} to ${to} completed`,
    rolledBack: (image: string, running: string) => `Upgrade to ${image} did not complete: running ${running}`,
    cleaned: (file: string) => `Deleted ${file} to make space for the new image`,
    invalidConfig: (n: number) => `${n} configuration line${n === 1 ? '' : 's'} not understood by the running image saved to nvram:invalid-config`,
    mailFailed: (server: string, why: string) => `Status email to ${server} not sent: ${why}`,
    shortStorage: (file: string, fs: string) => `Image ${file} downloaded again into ${fs}; the old image was erased`,
  },

  /** [INF] the boot-time parser error for each line the new image lacks (S4.5). */
  parserError: (line: string) => `% Invalid input detected: "${line}" is not understood by this image (saved to nvram:invalid-config)`,
  /** [DOC] show autoupgrade configuration unknown. */
  unknownHeader: '! Config Lines not understood by the current image:',
  unknownTotal: (n: number) => `Total ${n} Invalid Config Lines`,

  // ---- disk clean-up [INF] confirm prompt per IOS_REFERENCE §8
  deleteFile: (f: string) => `Delete ${f}? `,
  deleting: (f: string) => `Deleting ${f} to make space for the new image`,

  // ---- status mail [INF] IOS_REFERENCE §8 proposal
  mail: {
    subject: (host: string) => `Auto Upgrade status for ${host}`,
    body: (m: { host: string; status: 'SCHEDULED' | 'SUCCESS' | 'FAILURE'; image: string; from: string; to?: string; reason?: string; time: string }) =>
      [
        `Device: ${m.host}`,
        `Image: ${m.image}`,
        `Status: ${m.status}`,
        `Old version: ${m.from}`,
        `New version: ${m.to ?? 'unknown'}`,
        ...(m.reason ? [`Reason: ${m.reason}`] : []),
        `Time: ${m.time}`,
        '',
      ].join('\n'),
  },

  // ---- debug autoupgrade [INF]
  debugArea: { title: 'Auto Upgrade Manager', phrase: 'Auto upgrade', tag: 'AUM' },
} as const;
