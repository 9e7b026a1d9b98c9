CREATE TABLE "managed_resources" (
	"kind" text NOT NULL,
	"key" text NOT NULL,
	"project" text NOT NULL,
	"created" boolean DEFAULT false NOT NULL,
	"fingerprint" text,
	"value_version" integer,
	"applied_by" text NOT NULL,
	"applied_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "managed_resources_kind_key_pk" PRIMARY KEY("kind","key")
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"name" text PRIMARY KEY NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "managed_resources" ADD CONSTRAINT "managed_resources_project_projects_name_fk" FOREIGN KEY ("project") REFERENCES "public"."projects"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "managed_resources_project_idx" ON "managed_resources" USING btree ("project");