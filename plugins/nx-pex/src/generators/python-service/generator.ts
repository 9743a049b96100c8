import type { Tree } from '../../nx-api';
import { pythonProjectGenerator, type PythonProjectOptions } from '../python-project/generator';

/** `nx g nx-pex:python-service NAME`: a service with a console script, in the uv workspace. */
export default function pythonServiceGenerator(tree: Tree, options: PythonProjectOptions) {
  return pythonProjectGenerator(tree, options, 'service');
}
