export { teardown as default } from './jest-kafka';
