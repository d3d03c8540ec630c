import http from 'node:http'

/** No keep-alive: each upload is a fresh connection, as from separate clients. */
const freshAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
const keepAliveAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  ms: number
}

export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer; keepAlive?: boolean; timeoutMs?: number } = {},
): Promise<HttpResponse> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? (options.body ? 'POST' : 'GET'),
        headers: { ...(options.body ? { 'content-length': String(options.body.length) } : {}), ...options.headers },
        agent: options.keepAlive ? keepAliveAgent : freshAgent,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }))
        res.on('error', reject)
      },
    )
    req.setTimeout(options.timeoutMs ?? 120_000, () => req.destroy(new Error(`${url}: no answer in ${options.timeoutMs ?? 120_000} ms`)))
    req.on('error', reject)
    req.end(options.body)
  })
}

export function json<T = Record<string, unknown>>(response: HttpResponse): T {
  try {
    return JSON.parse(response.body.toString('utf8')) as T
  } catch {
    throw new Error(`expected JSON, got HTTP ${response.status}: ${response.body.subarray(0, 300).toString('utf8')}`)
  }
}

export async function login(gatewayUrl: string, email: string, password: string): Promise<string> {
  const response = await request(`${gatewayUrl}/api/token/`, {
    body: Buffer.from(JSON.stringify({ email, password })),
    headers: { 'content-type': 'application/json' },
  })
  if (response.status !== 200) throw new Error(`login failed: HTTP ${response.status} ${response.body.toString('utf8')}`)
  return json<{ access: string }>(response).access
}

/** A multipart form with one image, built once and sent as many times as needed. */
export function uploadBody(data: Buffer, format: 'jpeg' | 'png', title = 'bench'): { body: Buffer; contentType: string } {
  const boundary = '----imageapibench7d2f9c1e'
  const ext = format === 'jpeg' ? 'jpg' : 'png'
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n${title}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.${ext}"\r\nContent-Type: image/${format}\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ])
  return { body, contentType: `multipart/form-data; boundary=${boundary}` }
}

export interface UploadedImage {
  id: string
  thumbnails: Array<{ height: number; width: number | null; status: string; url: string | null; formats?: Record<string, string> }>
  original: { url: string } | null
}

export async function upload(gatewayUrl: string, token: string, form: { body: Buffer; contentType: string }): Promise<{ response: HttpResponse; image: UploadedImage }> {
  const response = await request(`${gatewayUrl}/api/images`, {
    body: form.body,
    headers: { 'content-type': form.contentType, authorization: `Bearer ${token}` },
  })
  if (response.status !== 201) throw new Error(`upload failed: HTTP ${response.status} ${response.body.subarray(0, 500).toString('utf8')}`)
  return { response, image: json<UploadedImage>(response) }
}
