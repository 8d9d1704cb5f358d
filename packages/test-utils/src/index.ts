export * from './conformance.ts'
export * from './redis.ts'
