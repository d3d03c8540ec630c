import http from 'node:http'

/**
 * PUTs `body` with exactly the given headers (fetch would set Content-Length itself): a
 * Content-Length that says body's length unless `transfer-encoding` is given. Resolves to the status.
 */
export function putRaw(url: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const chunked = headers['transfer-encoding'] === 'chunked'
    const request = http.request(url, { method: 'PUT', headers: chunked ? headers : { ...headers, 'content-length': String(body.length) } }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode ?? 0))
    })
    request.on('error', reject)
    request.end(body)
  })
}
