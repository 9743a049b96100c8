/** What a batch executor reports to Nx for each task, as soon as the task finishes. */
export interface TaskResult {
  success: boolean;
  terminalOutput: string;
  startTime: number;
  endTime: number;
  status?: 'success' | 'failure' | 'skipped';
}

export interface BatchTaskResult {
  task: string;
  result: TaskResult;
}
