import { pino, type DestinationStream, type Logger } from 'pino'

/**
 * Creates the service logger. Requests are logged by the proxy's own access line only, so
 * the serializers here keep the request method and id. They drop the URL and headers,
 * which can carry keys.
 */
export function createLogger (destination?: DestinationStream, level = 'info'): Logger {
  return pino({
    level,
    base: { service: 'misp-keygate' },
    serializers: {
      req: (req: { method?: string, id?: string }) => ({ method: req.method, request_id: req.id }),
      res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
      err: pino.stdSerializers.err
    }
  }, destination)
}
