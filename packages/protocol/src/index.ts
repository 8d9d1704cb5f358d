export type {
  ClientFrame,
  ClientPingFrame,
  CreateEvent,
  CustomEvent,
  DeleteEvent,
  ErrorFrame,
  HelloFrame,
  JoinData,
  JoinFrame,
  LeaveData,
  LeaveFrame,
  PatchEvent,
  PongFrame,
  ResumedEvent,
  ResumePoint,
  SendEvent,
  ServerErrorCode,
  ServerFrame,
  ServerPingFrame,
  StreamEvent,
  StreamEventType,
  StreamFrame,
  SyncEvent,
  UnauthorizedEvent,
  UpdateEvent,
} from './frames.ts'
export { EXTENSIONS_QUERY_PARAM, EXTENSIONS_VERSION, SERVER_ERROR_CODES } from './frames.ts'
export type { JsonObject, JsonPrimitive, JsonValue } from './json.ts'
export {
  cloneJson,
  findNonJson,
  MAX_JSON_DEPTH,
  parseJsonNumber,
  setOwn,
  utf8ByteLength,
} from './json.ts'
export type {
  FrameError,
  FrameErrorCode,
  ParseOptions,
  ParseResult,
  SerializeOptions,
} from './parse.ts'
export { parseClientFrame, parseServerFrame, serializeFrame } from './parse.ts'
export type {
  ApplyUpdateOpsResult,
  Missing,
  SegmentPath,
  UpdateOp,
  UpdateOpError,
  UpdateOpErrorCode,
  UpdateOpsRejection,
  UpdateOpType,
  ValidateUpdateOpsResult,
} from './update-ops.ts'
export {
  applyUpdateOps,
  InvalidUpdateOpsError,
  MISSING,
  PROTO_POLLUTION_KEYS,
  UPDATE_OP_DOC_URL,
  UPDATE_OP_LIMITS,
  UPDATE_OP_TYPES,
  validateUpdateOps,
} from './update-ops.ts'
