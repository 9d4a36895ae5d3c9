/**
 * Adapts the one LogOutputChannel (created in activate) to the core's Logger port, and writes a line per
 * document attempt from pipeline events. The channel respects the user's log level.
 */
import type * as vscode from 'vscode';
import type { PipelineEvent } from '../core/events';
import type { Logger } from '../core/logger';

export function channelLogger(channel: vscode.LogOutputChannel): Logger {
  return {
    trace: (m, ...a) => channel.trace(m, ...a),
    debug: (m, ...a) => channel.debug(m, ...a),
    info: (m, ...a) => channel.info(m, ...a),
    warn: (m, ...a) => channel.warn(m, ...a),
    // an Error keeps its stack in the channel
    error: (m, ...a) => channel.error(m, ...a),
  };
}

/** Prefixes messages, e.g. with the workspace folder name in a multi-root workspace. */
export function prefixedLogger(logger: Logger, prefix: string): Logger {
  if (!prefix) return logger;
  const p = (m: string) => `[${prefix}] ${m}`;
  return {
    trace: (m, ...a) => logger.trace(p(m), ...a),
    debug: (m, ...a) => logger.debug(p(m), ...a),
    info: (m, ...a) => logger.info(p(m), ...a),
    warn: (m, ...a) => logger.warn(p(m), ...a),
    error: (m, ...a) => (m instanceof Error ? logger.error(m, ...a) : logger.error(p(m), ...a)),
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** One log line per document attempt and run transition. Returns nothing: call it from an event listener. */
export function logPipelineEvent(logger: Logger, e: PipelineEvent): void {
  switch (e.type) {
    case 'doc/started':
      logger.info(`${e.path}: attempt ${e.attempt} started`);
      break;
    case 'doc/completed':
      logger.info(`${e.path}: done in ${seconds(e.durationMs)} (${e.tokensIn} tokens in, ${e.tokensOut} out)`);
      break;
    case 'doc/retry':
      // the pipeline has already logged the failure itself
      logger.info(`${e.path}: attempt ${e.attempt + 1} in ${seconds(e.delayMs)} ([${e.error.code}] after attempt ${e.attempt})`);
      break;
    case 'doc/failed':
      logger.error(`${e.path}: failed in ${e.error.stage}: [${e.error.code}] ${e.error.message}`);
      break;
    case 'doc/dead-lettered':
      logger.error(`${e.path}: moved to the dead-letter queue after ${e.error.stage}: [${e.error.code}] ${e.error.message}`);
      break;
    case 'doc/rejected':
      logger.info(`${e.path}: rejected: ${e.reason}`);
      break;
    case 'doc/requeued':
      logger.info(`${e.path}: queued again`);
      break;
    case 'run/paused':
      logger.info(`Run ${e.runId} paused`);
      break;
    case 'run/resumed':
      logger.info(`Run ${e.runId} resumed`);
      break;
    case 'run/finished':
      if (e.reason) logger.info(`Run ${e.runId} ${e.status}: ${e.reason}`);
      break;
    default:
      break;
  }
}
