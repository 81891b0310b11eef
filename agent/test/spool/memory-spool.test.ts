import { MemorySpool } from '../../src/spool/memory-spool.js';
import { describeSpool } from './spool.contract.js';

describeSpool('MemorySpool', (maxBytes) => new MemorySpool(maxBytes === undefined ? {} : { maxBytes }));
