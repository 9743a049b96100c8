import { readRequirementsFileLock } from '@nx-pex/lock';

/**
 * The requirement texts of a pip requirements file (`-r`) and the files it includes, as the
 * requirements-file reader of @nx-pex/lock parses them (hashes, index lines and constraints are
 * dropped here; `buildRequirements` takes the files whole through `requirementFiles`).
 */
export async function readRequirementsFile(path: string): Promise<string[]> {
  return (await readRequirementsFileLock(path)).requirements.map((l) => l.text);
}
