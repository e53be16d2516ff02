/**
 * The feature modules a router is built from, in registration order. A new IOS feature is
 * one folder here and one line in this list.
 */
import { type RouterFeature, setRouterFeatures } from '../Router.ts';
import { aaaFeature } from './aaa/index.ts';
import { authenticityFeature } from './authenticity/index.ts';
import { bootFeature } from './boot/index.ts';
import { copyFeature } from './copy/index.ts';
import { coreFeature } from './core/index.ts';
import { debugFeature } from './debug/index.ts';
import { filesystemFeature } from './filesystem/index.ts';
import { interfacesFeature } from './interfaces/index.ts';
import { netFeature } from './net/index.ts';
import { pkiFeature } from './pki/index.ts';
import { scpFeature } from './scp/index.ts';
import { autoupgradeFeature } from './autoupgrade/index.ts';
import { systemFeature } from './system/index.ts';
import { versionFeature } from './version/index.ts';

export const allFeatures: RouterFeature[] = [
  coreFeature,
  systemFeature,
  aaaFeature,
  versionFeature,
  bootFeature,
  filesystemFeature,
  interfacesFeature,
  netFeature,
  pkiFeature,
  copyFeature,
  scpFeature,
  debugFeature,
  authenticityFeature,
  autoupgradeFeature,
];

setRouterFeatures(allFeatures);
