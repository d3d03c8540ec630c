export { LruCache } from './lru-cache.js'
