import protobuf from 'protobufjs';

/**
 * The subset of the Spark Connect protocol ingot speaks, written for ingot from the protocol
 * definition (Apache Spark, `sql/connect/common/src/main/protobuf/spark/connect/`: base.proto,
 * relations.proto, commands.proto) with the same field numbers; fields ingot does not use are
 * left out (protobuf skips unknown fields). Plus `google.rpc.Status` and `google.rpc.ErrorInfo`,
 * which carry a failed call's error class in the gRPC status details.
 *
 * Used: `ExecutePlan` (a SQL command or a SQL relation, results as Arrow IPC batches),
 * `ReattachExecute` / `ReleaseExecute` (reattachable execution), `Interrupt`, `Config` (session
 * confs), `ReleaseSession` and `FetchErrorDetails`.
 */
const PROTO = `
syntax = "proto3";
package spark.connect;

message Any { string type_url = 1; bytes value = 2; }

message Plan {
  oneof op_type { Relation root = 1; Command command = 2; }
}
message UserContext { string user_id = 1; string user_name = 2; }

message Relation {
  oneof rel_type { SQL sql = 10; LocalRelation local_relation = 11; }
}
message SQL { string query = 1; }
message LocalRelation { optional bytes data = 1; optional string schema = 2; }

message Command {
  oneof command_type { SqlCommand sql_command = 5; }
}
message SqlCommand { string sql = 1; }

message ReattachOptions { bool reattachable = 1; }

message ExecutePlanRequest {
  string session_id = 1;
  UserContext user_context = 2;
  Plan plan = 3;
  optional string client_type = 4;
  message RequestOption {
    oneof request_option { ReattachOptions reattach_options = 1; }
  }
  repeated RequestOption request_options = 5;
  optional string operation_id = 6;
  repeated string tags = 7;
}

message ExecutePlanResponse {
  string session_id = 1;
  message ArrowBatch { int64 row_count = 1; bytes data = 2; optional int64 start_offset = 3; }
  message SqlCommandResult { Relation relation = 1; }
  message ResultComplete {}
  oneof response_type {
    ArrowBatch arrow_batch = 2;
    SqlCommandResult sql_command_result = 5;
    ResultComplete result_complete = 14;
  }
  string operation_id = 12;
  string response_id = 13;
  string server_side_session_id = 15;
}

message KeyValue { string key = 1; optional string value = 2; }
message ConfigRequest {
  string session_id = 1;
  UserContext user_context = 2;
  message Set { repeated KeyValue pairs = 1; }
  message Get { repeated string keys = 1; }
  message Unset { repeated string keys = 1; }
  message Operation {
    oneof op_type { Set set = 1; Get get = 2; Unset unset = 6; }
  }
  Operation operation = 3;
  optional string client_type = 4;
}
message ConfigResponse { string session_id = 1; repeated KeyValue pairs = 2; repeated string warnings = 3; }

message InterruptRequest {
  string session_id = 1;
  UserContext user_context = 2;
  optional string client_type = 3;
  enum InterruptType {
    INTERRUPT_TYPE_UNSPECIFIED = 0;
    INTERRUPT_TYPE_ALL = 1;
    INTERRUPT_TYPE_TAG = 2;
    INTERRUPT_TYPE_OPERATION_ID = 3;
  }
  InterruptType interrupt_type = 4;
  oneof interrupt { string operation_tag = 5; string operation_id = 6; }
}
message InterruptResponse { string session_id = 1; repeated string interrupted_ids = 2; }

message ReattachExecuteRequest {
  string session_id = 1;
  UserContext user_context = 2;
  string operation_id = 3;
  optional string client_type = 4;
  optional string last_response_id = 5;
}

message ReleaseExecuteRequest {
  string session_id = 1;
  UserContext user_context = 2;
  string operation_id = 3;
  optional string client_type = 4;
  message ReleaseAll {}
  message ReleaseUntil { string response_id = 1; }
  oneof release { ReleaseAll release_all = 5; ReleaseUntil release_until = 6; }
}
message ReleaseExecuteResponse { string session_id = 1; optional string operation_id = 2; }

message ReleaseSessionRequest {
  string session_id = 1;
  UserContext user_context = 2;
  optional string client_type = 3;
}
message ReleaseSessionResponse { string session_id = 1; }

message FetchErrorDetailsRequest {
  string session_id = 1;
  UserContext user_context = 2;
  string error_id = 3;
  optional string client_type = 4;
}
message FetchErrorDetailsResponse {
  optional int32 root_error_idx = 1;
  message SparkThrowable {
    optional string error_class = 1;
    map<string, string> message_parameters = 2;
    optional string sql_state = 4;
  }
  message Error {
    repeated string error_type_hierarchy = 1;
    string message = 2;
    optional int32 cause_idx = 4;
    optional SparkThrowable spark_throwable = 5;
  }
  repeated Error errors = 2;
}

message RpcStatus { int32 code = 1; string message = 2; repeated Any details = 3; }
message ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
`;

/** The parsed protocol: look messages up as `spark.connect.<Name>`. */
export const sparkConnect: protobuf.Root = protobuf.parse(PROTO, { keepCase: true }).root;

/** Message type `spark.connect.<name>`. */
export function messageType(name: string): protobuf.Type {
  return sparkConnect.lookupType(`spark.connect.${name}`);
}
