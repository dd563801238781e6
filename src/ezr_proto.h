/* RTMP message type ids and user control event types (RTMP spec 1.0, sections 5.4 and 7.1). */
#ifndef EZR_PROTO_H
#define EZR_PROTO_H

enum ezr_msg_type {
    EZR_MSG_SET_CHUNK_SIZE = 1,
    EZR_MSG_ABORT = 2,
    EZR_MSG_ACK = 3,
    EZR_MSG_USER_CONTROL = 4,
    EZR_MSG_WINDOW_ACK_SIZE = 5,
    EZR_MSG_SET_PEER_BW = 6,
    EZR_MSG_AUDIO = 8,
    EZR_MSG_VIDEO = 9,
    EZR_MSG_DATA_AMF3 = 15,
    EZR_MSG_SHARED_OBJECT_AMF3 = 16,
    EZR_MSG_COMMAND_AMF3 = 17,
    EZR_MSG_DATA_AMF0 = 18,
    EZR_MSG_SHARED_OBJECT_AMF0 = 19,
    EZR_MSG_COMMAND_AMF0 = 20,
    EZR_MSG_AGGREGATE = 22,
};

enum ezr_user_control {
    EZR_UC_STREAM_BEGIN = 0,
    EZR_UC_STREAM_EOF = 1,
    EZR_UC_STREAM_DRY = 2,
    EZR_UC_SET_BUFFER_LENGTH = 3,
    EZR_UC_STREAM_IS_RECORDED = 4,
    EZR_UC_PING_REQUEST = 6,
    EZR_UC_PING_RESPONSE = 7,
};

/* Set Peer Bandwidth limit types. */
enum ezr_peer_bw_limit {
    EZR_PEER_BW_HARD = 0,
    EZR_PEER_BW_SOFT = 1,
    EZR_PEER_BW_DYNAMIC = 2,
};

#endif
