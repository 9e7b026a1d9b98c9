// Every command group, one file each. Adding a noun to the CLI is adding a file here.
import type { Command } from 'commander';
import { registerAuth } from './auth.ts';
import { registerVaults } from './vaults.ts';
import { registerSecrets } from './secrets.ts';
import { registerWorkspaces } from './workspaces.ts';
import { registerUsers } from './users.ts';
import { registerServiceAccounts } from './service-accounts.ts';
import { registerFunctions } from './functions.ts';
import { registerAudit } from './audit.ts';
import { registerPipelines } from './pipelines.ts';
import { registerExecutors } from './executors.ts';
import { registerExec } from './exec.ts';
import { registerServer } from './server.ts';
import { registerCompletion } from './completion.ts';
import { registerRun } from './run.ts';
import { registerInit } from './init.ts';
import { registerDev } from './dev.ts';
import { registerProject } from './project.ts';

export const commandGroups: ((program: Command) => void)[] = [
  registerAuth, registerVaults, registerSecrets, registerWorkspaces, registerUsers, registerServiceAccounts,
  registerFunctions, registerPipelines, registerExecutors, registerAudit, registerExec, registerInit, registerRun, registerDev,
  registerServer, registerProject, registerCompletion,
];
