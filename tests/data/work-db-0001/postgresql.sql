--
-- PostgreSQL database dump
--

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: deliveries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.deliveries (
    guid text NOT NULL,
    event text NOT NULL,
    action text,
    status text NOT NULL,
    reason text NOT NULL,
    received_at timestamp with time zone NOT NULL,
    payload bytea NOT NULL,
    repository text,
    installation_id bigint
);

--
-- Name: jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.jobs (
    id integer NOT NULL,
    kind text NOT NULL,
    repository text NOT NULL,
    promise text,
    commit_sha text,
    payload text NOT NULL,
    delivery_guid text,
    supersedes boolean NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL,
    worker text,
    lease_until timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    error text,
    result text
);

--
-- Name: jobs_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.jobs_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: jobs_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.jobs_id_seq OWNED BY public.jobs.id;

--
-- Name: repositories; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.repositories (
    full_name text NOT NULL,
    installation_id bigint NOT NULL,
    default_branch text NOT NULL,
    registered_at timestamp with time zone NOT NULL,
    last_reconcile_at timestamp with time zone,
    last_result text
);

--
-- Name: schema_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_version (
    version integer NOT NULL
);

--
-- Name: jobs id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.jobs ALTER COLUMN id SET DEFAULT nextval('public.jobs_id_seq'::regclass);

--
-- Data for Name: deliveries; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.deliveries VALUES ('d-bad', 'push', NULL, 'invalid', 'not JSON', '2026-10-01 09:00:01.25+00', '\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', NULL, NULL);
INSERT INTO public.deliveries VALUES ('d-ping', 'ping', NULL, 'ignored', 'ping', '2026-10-01 09:00:02.25+00', '\x7b227a656e223a226869227d', NULL, NULL);
INSERT INTO public.deliveries VALUES ('d-push-1', 'push', NULL, 'succeeded', '2 jobs', '2026-10-01 09:00:00.25+00', '\x7b22726566223a22726566732f68656164732f6d61696e222c226166746572223a226331227d', 'my-org/platform', 42);
INSERT INTO public.deliveries VALUES ('d-push-2', 'push', NULL, 'queued', '', '2026-10-01 09:00:06.25+00', '\x7b22726566223a22726566732f68656164732f6d61696e222c226166746572223a226332227d', 'my-org/platform', 42);

--
-- Data for Name: jobs; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.jobs VALUES (1, 'delivery', 'my-org/platform', NULL, NULL, '{"guid":"d-push-1"}', 'd-push-1', false, 'succeeded', 1, 'host-a:1', NULL, '2026-10-01 09:00:00.25+00', '2026-10-01 09:00:03.25+00', '2026-10-01 09:00:03.25+00', NULL, '{"queued":2}');
INSERT INTO public.jobs VALUES (2, 'reconcile', 'my-org/platform', 'redis', 'c1', '{"commit":"c1"}', 'd-push-1', true, 'succeeded', 1, 'host-a:1', NULL, '2026-10-01 09:00:03.25+00', '2026-10-01 09:00:04.25+00', '2026-10-01 09:00:04.25+00', NULL, '{"outcome":"opened","pull_request":7}');
INSERT INTO public.jobs VALUES (3, 'reconcile', 'my-org/platform', 'postgres', 'c1', '{"commit":"c1"}', 'd-push-1', true, 'failed', 1, 'host-a:2', NULL, '2026-10-01 09:00:03.25+00', '2026-10-01 09:00:04.25+00', '2026-10-01 09:00:04.25+00', 'pipeline failed: exit 1', NULL);
INSERT INTO public.jobs VALUES (4, 'reconcile', 'my-org/other', NULL, 'c9', '{"reason":"schedule"}', NULL, true, 'superseded', 0, NULL, NULL, '2026-10-01 09:00:05.25+00', NULL, '2026-10-01 09:00:05.25+00', 'superseded by job 5', NULL);
INSERT INTO public.jobs VALUES (5, 'reconcile', 'my-org/other', NULL, 'c10', '{"reason":"schedule"}', NULL, true, 'running', 1, 'host-b:1', '2026-10-01 09:01:06.25+00', '2026-10-01 09:00:05.25+00', '2026-10-01 09:00:06.25+00', NULL, NULL, NULL);
INSERT INTO public.jobs VALUES (6, 'preview', 'my-org/platform', 'redis', 'c2', '{"pull":3}', NULL, false, 'queued', 0, NULL, NULL, '2026-10-01 09:00:06.25+00', NULL, NULL, NULL, NULL);
INSERT INTO public.jobs VALUES (7, 'delivery', 'my-org/platform', NULL, NULL, '{"guid":"d-push-2"}', 'd-push-2', false, 'queued', 0, NULL, NULL, '2026-10-01 09:00:06.25+00', NULL, NULL, NULL, NULL);

--
-- Data for Name: repositories; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.repositories VALUES ('my-org/other', 43, 'trunk', '2026-10-01 09:00:00.25+00', NULL, NULL);
INSERT INTO public.repositories VALUES ('my-org/platform', 42, 'main', '2026-10-01 09:00:00.25+00', '2026-10-01 09:00:00.25+00', '{"interval":3600,"outcome":"succeeded","retries":{"redis":"2026-10-01T09:05:00.250000+00:00"}}');

--
-- Data for Name: schema_version; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_version VALUES (1);

--
-- Name: jobs_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.jobs_id_seq', 7, true);

--
-- Name: deliveries deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT deliveries_pkey PRIMARY KEY (guid);

--
-- Name: jobs jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);

--
-- Name: repositories repositories_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.repositories
    ADD CONSTRAINT repositories_pkey PRIMARY KEY (full_name);

--
-- Name: deliveries_received; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX deliveries_received ON public.deliveries USING btree (received_at);

--
-- Name: jobs_delivery; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_delivery ON public.jobs USING btree (delivery_guid);

--
-- Name: jobs_repository; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_repository ON public.jobs USING btree (repository, status);

--
-- Name: jobs_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_status ON public.jobs USING btree (status, id);

--
-- Name: jobs jobs_delivery_guid_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.jobs
    ADD CONSTRAINT jobs_delivery_guid_fkey FOREIGN KEY (delivery_guid) REFERENCES public.deliveries(guid) ON DELETE SET NULL;

--
-- PostgreSQL database dump complete
--

