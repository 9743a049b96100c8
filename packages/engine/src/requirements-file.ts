import { readRequirementsFileLock } from '@nx-pex/lock';
import { parseRoot } from '@nx-pex/resolver';

/**
 * The requirement texts of a pip requirements file (`-r`) and the files it includes, as the
 * requirements-file reader of @nx-pex/lock parses them: local projects, wheel and sdist files
 * and `-e` lines are requirements, as pex takes them; the lines of `-c` files go to
 * `constraints` when given. (Hashes and index lines are dropped here: `buildRequirements` takes
 * the files whole through `requirementFiles`.)
 */
export async function readRequirementsFile(path: string, constraints?: string[]): Promise<string[]> {
  const rf = await readRequirementsFileLock(path, process.env, { parseLine: parseRoot });
  constraints?.push(...rf.constraints.map((l) => l.text));
  return rf.requirements.map((l) => l.text);
}
