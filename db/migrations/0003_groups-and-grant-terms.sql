CREATE TABLE "group_members" (
	"group_id" text NOT NULL,
	"principal_id" text NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "group_members_group_id_principal_id_pk" PRIMARY KEY("group_id","principal_id")
);
--> statement-breakpoint
CREATE TABLE "groups" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "workspace_group_members" (
	"workspace_id" text NOT NULL,
	"group_id" text NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "workspace_group_members_workspace_id_group_id_pk" PRIMARY KEY("workspace_id","group_id")
);
--> statement-breakpoint
ALTER TABLE "vault_grants" DROP CONSTRAINT "vault_grants_one_holder";--> statement-breakpoint
ALTER TABLE "vault_grants" ADD COLUMN "group_id" text;--> statement-breakpoint
ALTER TABLE "vault_grants" ADD COLUMN "functions" jsonb;--> statement-breakpoint
ALTER TABLE "vault_grants" ADD COLUMN "secrets" jsonb;--> statement-breakpoint
ALTER TABLE "vault_grants" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_principal_id_principals_id_fk" FOREIGN KEY ("principal_id") REFERENCES "public"."principals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_group_members" ADD CONSTRAINT "workspace_group_members_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_group_members" ADD CONSTRAINT "workspace_group_members_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "group_members_principal_idx" ON "group_members" USING btree ("principal_id");--> statement-breakpoint
CREATE UNIQUE INDEX "groups_name_uq" ON "groups" USING btree ("name");--> statement-breakpoint
CREATE INDEX "workspace_group_members_group_idx" ON "workspace_group_members" USING btree ("group_id");--> statement-breakpoint
ALTER TABLE "vault_grants" ADD CONSTRAINT "vault_grants_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "vault_grants_group_uq" ON "vault_grants" USING btree ("vault_id","group_id") WHERE "vault_grants"."group_id" is not null;--> statement-breakpoint
CREATE INDEX "vault_grants_group_idx" ON "vault_grants" USING btree ("group_id");--> statement-breakpoint
ALTER TABLE "vault_grants" ADD CONSTRAINT "vault_grants_one_holder" CHECK (num_nonnulls("vault_grants"."principal_id", "vault_grants"."workspace_id", "vault_grants"."group_id") = 1);