import type { FastifyReply } from 'fastify';
import { TamsError } from '../../domain/errors';

/**
 * Sends a bare JSON value. fastify would send a returned string as text/plain without
 * quotes; property endpoints answer JSON strings ("a label") like every other value.
 */
export function sendJsonValue(reply: FastifyReply, value: unknown): FastifyReply {
  return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(value));
}

export function checkBody(problem: string | undefined): void {
  if (problem !== undefined) throw new TamsError('validation_failed', problem);
}
