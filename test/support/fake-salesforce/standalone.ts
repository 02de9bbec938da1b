/**
 * Runs the fake Salesforce on its own, for local use:
 *
 *   node --import tsx test/support/fake-salesforce/standalone.ts [--port 4010] [--seed 25]
 *
 * Seeds N demo Contacts in the default org, prints one "ready" line and stops on SIGINT / SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startFakeSalesforce } from './fake-salesforce.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4010' },
    seed: { type: 'string', default: '25' },
  },
});

const port = Number(values.port);
const seed = Number(values.seed);
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got ${values.port}`);
if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);

const fake = await startFakeSalesforce({ port });
const firstNames = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken'];
const lastNames = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson'];
const tiers = ['Gold', 'Silver', 'Bronze'];
fake.org(fake.defaultOrgId).insert(
  'Contact',
  Array.from({ length: seed }, (_, i) => {
    const first = firstNames[i % firstNames.length] as string;
    const last = lastNames[Math.floor(i / firstNames.length) % lastNames.length] as string;
    return {
      FirstName: first,
      LastName: last,
      Email: `${first}.${last}.${i + 1}@example.com`.toLowerCase(),
      Loyalty_Tier__c: tiers[i % tiers.length],
      Lifetime_Value__c: 100 * (i + 1),
      Roster_Id__c: `demo-${i + 1}`,
    };
  }),
);

console.log(`Fake Salesforce ready on ${fake.url} (client id ${fake.clientId}, client secret ${fake.clientSecret})`);

const stop = () => {
  fake.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
