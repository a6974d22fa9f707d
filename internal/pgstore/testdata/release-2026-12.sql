-- The tables tabhook's PostgreSQL store left at the 2026-12 release (schema version 5),
-- written by TestUpgradeKeepsData -write-release. Kept as it is: it is what an upgrade opens.
CREATE TABLE {{schema}}.tabhook_events (
    id bigint NOT NULL,
    key text NOT NULL,
    rec json NOT NULL,
    state text NOT NULL,
    received_at timestamp with time zone NOT NULL,
    next_try timestamp with time zone,
    delivered_at timestamp with time zone,
    lease_until timestamp with time zone,
    held boolean DEFAULT false NOT NULL,
    lease_token bigint DEFAULT 0 NOT NULL,
    lease_holder text DEFAULT ''::text NOT NULL
);



CREATE SEQUENCE {{schema}}.tabhook_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;



ALTER SEQUENCE {{schema}}.tabhook_events_id_seq OWNED BY {{schema}}.tabhook_events.id;



CREATE TABLE {{schema}}.tabhook_items (
    key text NOT NULL,
    value bytea NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);



CREATE SEQUENCE {{schema}}.tabhook_lease_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;



CREATE TABLE {{schema}}.tabhook_pace (
    channel text NOT NULL,
    next_at timestamp with time zone NOT NULL
);



CREATE TABLE {{schema}}.tabhook_replicas (
    id text NOT NULL,
    grp text NOT NULL,
    seen timestamp with time zone NOT NULL,
    name text DEFAULT ''::text NOT NULL,
    version text DEFAULT ''::text NOT NULL,
    since timestamp with time zone DEFAULT now() NOT NULL,
    backend integer DEFAULT 0 NOT NULL
);



CREATE TABLE {{schema}}.tabhook_schema (
    version integer NOT NULL
);



CREATE TABLE {{schema}}.tabhook_sessions (
    key text NOT NULL,
    value bytea NOT NULL
);



ALTER TABLE ONLY {{schema}}.tabhook_events ALTER COLUMN id SET DEFAULT nextval('{{schema}}.tabhook_events_id_seq'::regclass);



INSERT INTO {{schema}}.tabhook_events VALUES (1, '2026-11-30T07:00:01Z/9d783e7ed8c0ac8bec8fed11bcb21e25', '{"id":1,"key":"2026-11-30T07:00:01Z/9d783e7ed8c0ac8bec8fed11bcb21e25","payload":{"resource":"WORKBOOK","event_type":"WorkbookUpdated","resource_name":"Workbook 1","site_luid":"site-1","resource_luid":"wb-1","created_at":"2026-11-30T07:00:01Z"},"received_at":"2026-12-02T09:00:00Z","state":"delivered","attempts":1,"channel":"C0ALERTS","message_ts":"1733130000.000100","post_started":true,"sent_at":"2026-12-02T09:00:01Z","delivered_at":"2026-12-02T09:00:01Z"}', 'delivered', '2026-12-02 09:00:00+00', NULL, '2026-12-02 09:00:01+00', NULL, false, 1, 'vm:15965');
INSERT INTO {{schema}}.tabhook_events VALUES (4, '2026-11-30T07:00:04Z/61d39f155cbd0dc3fe5015075d3fcd57', '{"id":4,"key":"2026-11-30T07:00:04Z/61d39f155cbd0dc3fe5015075d3fcd57","payload":{"resource":"WORKBOOK","event_type":"WorkbookUpdated","resource_name":"Workbook 4","site_luid":"site-1","resource_luid":"wb-4","created_at":"2026-11-30T07:00:04Z"},"received_at":"2026-12-02T09:00:00Z","state":"dead","attempts":3,"last_error":"Slack: channel_not_found","dead_reason":"channel_not_found"}', 'dead', '2026-12-02 09:00:00+00', NULL, NULL, NULL, false, 3, 'vm:15965');
INSERT INTO {{schema}}.tabhook_events VALUES (2, '2026-11-30T07:00:02Z/ba12535b008cd2624f59ef2bc53cb9bc', '{"id":0,"key":"2026-11-30T07:00:02Z/ba12535b008cd2624f59ef2bc53cb9bc","payload":{"resource":"WORKBOOK","event_type":"WorkbookUpdated","resource_name":"Workbook 2","site_luid":"site-1","resource_luid":"wb-2","created_at":"2026-11-30T07:00:02Z"},"received_at":"2026-12-02T09:00:00Z","state":"pending","attempts":0}', 'pending', '2026-12-02 09:00:00+00', NULL, NULL, NULL, false, 4, 'vm:15965');
INSERT INTO {{schema}}.tabhook_events VALUES (3, '2026-11-30T07:00:03Z/b16214313e7f3c7a808f70cb995be9de@oncall', '{"id":0,"key":"2026-11-30T07:00:03Z/b16214313e7f3c7a808f70cb995be9de@oncall","destination":"oncall","payload":{"resource":"WORKBOOK","event_type":"WorkbookUpdated","resource_name":"Workbook 3","site_luid":"site-1","resource_luid":"wb-3","created_at":"2026-11-30T07:00:03Z"},"received_at":"2026-12-02T09:00:00Z","state":"pending","attempts":0}', 'pending', '2026-12-02 09:00:00+00', NULL, NULL, NULL, false, 2, 'vm:15965');



INSERT INTO {{schema}}.tabhook_items VALUES ('refresh/site-1/workbook/wb-1', '\x7b2273747265616b223a322c22746872656164223a22313733333133303030302e303030313030227d', '2026-12-02 03:21:52.335412+00');









INSERT INTO {{schema}}.tabhook_schema VALUES (5);






SELECT pg_catalog.setval('{{schema}}.tabhook_events_id_seq', 4, true);



SELECT pg_catalog.setval('{{schema}}.tabhook_lease_seq', 4, true);



ALTER TABLE ONLY {{schema}}.tabhook_events
    ADD CONSTRAINT tabhook_events_key_key UNIQUE (key);



ALTER TABLE ONLY {{schema}}.tabhook_events
    ADD CONSTRAINT tabhook_events_pkey PRIMARY KEY (id);



ALTER TABLE ONLY {{schema}}.tabhook_items
    ADD CONSTRAINT tabhook_items_pkey PRIMARY KEY (key);



ALTER TABLE ONLY {{schema}}.tabhook_pace
    ADD CONSTRAINT tabhook_pace_pkey PRIMARY KEY (channel);



ALTER TABLE ONLY {{schema}}.tabhook_replicas
    ADD CONSTRAINT tabhook_replicas_pkey PRIMARY KEY (id);



ALTER TABLE ONLY {{schema}}.tabhook_sessions
    ADD CONSTRAINT tabhook_sessions_pkey PRIMARY KEY (key);



CREATE INDEX tabhook_events_pending ON {{schema}}.tabhook_events USING btree (id) WHERE (state = 'pending'::text);
