export { setup as default } from './jest-kafka';
