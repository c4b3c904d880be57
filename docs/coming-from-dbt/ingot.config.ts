import { defineConfig } from 'ingot';

export default defineConfig({ lake: './lake' });
