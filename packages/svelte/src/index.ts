export { getStreamClient, setStreamClient } from './context.ts'
export { connectionStatus, streamEvents, streamGroup, streamItem } from './stores.ts'
