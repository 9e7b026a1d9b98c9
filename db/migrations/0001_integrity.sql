CREATE TABLE "vault_name_tombstones" (
	"name" text PRIMARY KEY NOT NULL,
	"vault_id" text,
	"deleted_by" text,
	"deleted_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "vault_id" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "workspace_id" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "client_request_id" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "hash_version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "principals" ADD COLUMN "deactivated_by_admin" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "audit_vault_id_idx" ON "audit_events" USING btree ("vault_id","seq");--> statement-breakpoint
-- Existing rows: a row belongs to the vault (workspace) that carries its name now only if it was
-- written at or after that vault's (workspace's) creation row; older rows with the name are a
-- deleted namesake's and keep no id, so they never show up in the new one's trail.
UPDATE "audit_events" a SET "vault_id" = v."id" FROM "vaults" v
WHERE a."vault" = v."name" AND a."seq" >= coalesce((SELECT max(c."seq") FROM "audit_events" c WHERE c."action" = 'vault.create' AND c."vault" = v."name"), 0);
--> statement-breakpoint
UPDATE "audit_events" a SET "workspace_id" = w."id" FROM "workspaces" w
WHERE a."workspace" = w."name" AND a."seq" >= coalesce((SELECT max(c."seq") FROM "audit_events" c WHERE c."action" = 'workspace.create' AND c."workspace" = w."name"), 0);
--> statement-breakpoint
-- Names of vaults deleted before tombstones existed are reserved too.
INSERT INTO "vault_name_tombstones" ("name", "vault_id", "deleted_by", "deleted_at")
SELECT DISTINCT ON (d."vault") d."vault", NULL, d."actor_id", d."at" FROM "audit_events" d
WHERE d."action" = 'vault.delete' AND d."outcome" = 'allowed' AND d."vault" IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM "vaults" v WHERE v."name" = d."vault")
ORDER BY d."vault", d."seq" DESC;
