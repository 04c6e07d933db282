// pino logger: JSON to stdout, human-readable when stdout is a TTY. Secrets are
// never passed to the logger in the first place; redaction is the second fence.
import pino, { type Logger } from 'pino'

export type { Logger }

const REDACT = ['secret', 'seed', 'masterKey', 'fundingSecret', 'databaseUrl', 'adminToken', '*.secret', '*.seed', '*.masterKey', '*.fundingSecret', '*.databaseUrl', '*.adminToken', 'authorization', '*.authorization']

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { level, base: { name: 'kale-pool' }, redact: { paths: REDACT, censor: '[redacted]' } }
  if (destination) return pino(options, destination)
  if (process.stdout.isTTY) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } })
  }
  return pino(options, pino.destination({ fd: 1, sync: false }))
}

/** A logger that discards everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
