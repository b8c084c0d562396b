// Public API of the packet codec (L0: pure, no I/O). Import from here, not from the
// individual files.
export * from './types.js';
export * from './reason-codes.js';
export { MqttProtocolError, malformed, protocolError, type ProtocolErrorCode } from './errors.js';
export { encodePacket } from './encode.js';
export {
  encodePublish,
  publishPacketIdOffset,
  patchPublishHeader,
  withPublishHeader,
  type PublishHeader,
} from './encode-publish.js';
export { decodePacket } from './decode.js';
export { PacketParser, MAX_PACKET_SIZE, type PacketParserOptions } from './parser.js';
export { PropertyId } from './property-table.js';
export { VARINT_MAX } from './varint.js';
