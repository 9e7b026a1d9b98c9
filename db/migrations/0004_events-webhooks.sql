CREATE TABLE "event_cursor" (
	"id" integer PRIMARY KEY NOT NULL,
	"last_seq" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "job_attempts" ADD COLUMN "http_status" integer;--> statement-breakpoint
ALTER TABLE "job_attempts" ADD COLUMN "latency_ms" integer;--> statement-breakpoint
ALTER TABLE "job_attempts" ADD COLUMN "response_excerpt" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "event_seq" bigint;