/**
 * The message for a pylock.toml that `nx-pex lock` (`nx run <project>:lock`) wrote while no
 * uv.lock covered the project, now that one does: it would shadow the uv.lock.
 */
export function shadowedLockMessage(pylock: string, uvLock: string, project: string): string {
  return (
    `${pylock} was written by \`nx-pex lock\` (\`nx run ${project}:lock\`), but ${uvLock} now covers ${project} too, and the pylock.toml would shadow it. ` +
    `Run \`nx sync\` to replace it with ${project}'s part of ${uvLock}, or set [tool.nx-pex] lock-file = "pylock.toml" to keep building from it.`
  );
}
