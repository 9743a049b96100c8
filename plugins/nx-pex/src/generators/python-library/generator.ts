import type { Tree } from '@nx/devkit';
import { pythonProjectGenerator, type PythonProjectOptions } from '../python-project/generator';

/** `nx g nx-pex:python-library NAME`: a library in the uv workspace. */
export default function pythonLibraryGenerator(tree: Tree, options: PythonProjectOptions) {
  return pythonProjectGenerator(tree, options, 'library');
}
