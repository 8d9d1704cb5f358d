export * from './conformance.ts'
export * from './redis.ts'
export * from './streams.ts'
