ALTER TABLE "job_attempts" ADD COLUMN "http_status" integer;--> statement-breakpoint
ALTER TABLE "job_attempts" ADD COLUMN "latency_ms" integer;--> statement-breakpoint
ALTER TABLE "job_attempts" ADD COLUMN "response_excerpt" text;