import { controlTable, eventsTable, localTableName, usersTable, type TableDefinition } from '../../shared/storage/table-definitions.js';

/** Names of the tables and bucket the test run creates on its local servers. */
export const testTableName = (definition: TableDefinition) => localTableName(definition, 'test');
export const testTables = {
  CONTROL_TABLE: testTableName(controlTable),
  USERS_TABLE: testTableName(usersTable),
  EVENTS_TABLE: testTableName(eventsTable),
};
export const TEST_BUCKET = 'roster-test';
