import type { Tree } from '../../nx-api';
import { pythonProjectGenerator, type PythonProjectOptions } from '../python-project/generator';

/** `nx g nx-pex:python-library NAME`: a library in the uv workspace. */
export default function pythonLibraryGenerator(tree: Tree, options: PythonProjectOptions) {
  return pythonProjectGenerator(tree, options, 'library');
}
