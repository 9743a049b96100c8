/**
 * File system helpers shared by the store and the PEX writer, below both in the pipeline: atomic
 * writes, removal of temporary files on SIGINT/SIGTERM, directory fsync and file identities.
 */
export { HOST_TAG, syncDir, tempBeside, tryWriteFileAtomic, writeFileAtomic, type AtomicWriteOptions } from './atomic';
export { hasIdentity, identityOf, sameIdentity, type FileIdentity } from './identity';
export { forgetGroup, keepOnInterrupt, killGroupOnInterrupt, pidAlive, removedOnInterrupt, removeOnInterrupt } from './interrupt';
