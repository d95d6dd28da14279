import './clora-app';
