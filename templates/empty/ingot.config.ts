import { defineConfig } from 'ingot';

// The lake (Delta tables) and the engine's limits; paths are relative to this folder.
export default defineConfig({ lake: './lake', engine: { memoryLimit: '1GB' } });
