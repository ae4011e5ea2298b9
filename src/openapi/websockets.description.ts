/** The document's description: what OpenAPI cannot express, the websockets (docs/reference.md §3). */
export const WEBSOCKETS_DESCRIPTION = `The task-run slice of the Prefect 3 server API, wire-compatible with Prefect clients.
Snake-case JSON, ISO-8601 timestamps with microseconds, durations as float seconds.
See docs/reference.md in the repository for status codes and deliberate differences from upstream.

## Websockets
All three speak the same handshake. Offer the subprotocol \`prefect\`; the first frame must be
\`{"type":"auth","token":<auth string or null>}\` and the server answers \`{"type":"auth_success"}\`.
A missing or wrong token closes with 1008 (\`Auth required but no token provided\`, \`Invalid token\`); a first frame
that is not \`auth\` closes with 1008 \`Expected 'auth' message\`. Without the \`prefect\` subprotocol the socket is
accepted in legacy mode with no auth frame, unless an auth string is set (then close 1002).

### \`/api/task_runs/subscriptions/scheduled\` (task workers)
Send \`{"type":"subscribe","keys":[task_key, …],"client_id":"…"}\` (problems close with 4001 and a
\`Protocol violation: …\` reason). The server then sends one \`TaskRun\` (schema below) at a time; answer
\`{"type":"ack"}\` to take it or \`{"type":"quit"}\` to take it and close. A run sent but not acked (socket closed,
replica gone) is delivered again. Workers appear in \`POST /api/task_workers/filter\`.

### \`/api/events/in\`
Each text frame is one \`Event\` (schema below). No replies. An invalid or oversized event closes the socket with
a specific code and reason rather than being dropped.

### \`/api/events/out\`
Send \`{"type":"filter","filter":EventFilter,"backfill":true}\` (wrong type: 1002 \`Expected 'filter' message\`;
invalid filter: 1002 \`Invalid filter: …\`). The server backfills stored matches from at most 15 minutes ago
(oldest first, pages of 250), then streams live events, each as \`{"type":"event","event":ReceivedEvent}\`.
`;
