console.log('extraction-workbench: CLI not wired yet');
